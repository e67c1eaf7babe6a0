"""Time a full POST /train on a running service while a client keeps calling /predict.

    make deploy && python -m bench.rollout_under_traffic [--gateway http://127.0.0.1:5000]

Prints the job's result, the wall time, and how many /predict calls were sent and failed.
"""
import argparse
import json
import threading
import time

import requests

from core.settings import get_settings


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gateway", default=get_settings().gateway_url)
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between /predict calls")
    args = parser.parse_args(argv)
    settings = get_settings()
    token = settings.admin_token or settings.admin_token_file.read_text().strip()
    stop, sent, failed = threading.Event(), [0], []

    def traffic():
        session = requests.Session()
        while not stop.is_set():
            try:
                response = session.post(f"{args.gateway}/predict", json={"text": ["최고의 영화", "최악이다"]}, timeout=30)
                if response.status_code != 200:
                    failed.append(response.text[:100])
            except requests.RequestException as exc:
                failed.append(repr(exc))
            sent[0] += 1
            time.sleep(args.interval)

    client = threading.Thread(target=traffic)
    client.start()
    started = time.time()
    response = requests.post(f"{args.gateway}/train", json={"wait": True},
                             headers={"Authorization": f"Bearer {token}"}, timeout=1800)
    elapsed = time.time() - started
    stop.set()
    client.join()
    print(json.dumps(response.json(), indent=1))
    print(f"wall {elapsed:.0f}s; /predict during the job: {sent[0]} sent, {len(failed)} failed {failed[:3]}")
    print(requests.get(f"{args.gateway}/health", timeout=10).json()["models"]["fast"])


if __name__ == "__main__":
    main()
