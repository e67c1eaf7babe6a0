"""gunicorn settings for the gateway, from the service's settings (core/settings.py).

gevent workers: a connection costs a greenlet, not a thread, so idle or slow clients cannot take
every worker (docs/security.md "Slow and idle clients"). gunicorn reads each request line and headers under
the keep-alive timeout, so a connection that sends nothing, or half a request, is closed after it;
gateway/body_deadline.py bounds the body the same way.
"""
import os
import shutil

from gunicorn.glogging import Logger

from core.settings import get_settings

_settings = get_settings()
bind = _settings.gateway_bind
workers = _settings.gateway_workers
worker_class = "gevent"
worker_connections = _settings.gateway_worker_connections
backlog = _settings.gateway_backlog
keepalive = _settings.gateway_keepalive_seconds
timeout = _settings.gateway_timeout_seconds
graceful_timeout = _settings.gateway_graceful_timeout_seconds
control_socket_disable = True  # gunicorn 27's control socket lives in $HOME: one per machine, not per stack

# Metrics: each worker writes its own files here; GET /metrics sums them (gateway/metrics.py).
METRICS_DIR = _settings.run_dir / "gateway_metrics"
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(METRICS_DIR)

# Logs: JSON lines on stderr. gateway/observability.py writes one line per request, so gunicorn's
# own access log is off.
accesslog = None


class _RequestLinesElsewhere(Logger):
    """With logconfig_dict set, gunicorn formats an access line for every request even when nothing
    writes it (~4% of a worker's CPU); gateway/observability.py writes the request lines."""

    def access(self, resp, req, environ, request_time):
        pass


logger_class = _RequestLinesElsewhere
_LEVEL = _settings.log_level.upper()
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "pythonjsonlogger.json.JsonFormatter",
                            "fmt": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s",
                            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger",
                                              "process": "pid"}}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
    "root": {"level": _LEVEL, "handlers": ["stderr"]},
    "loggers": {"gunicorn.error": {"level": _LEVEL, "handlers": ["stderr"], "propagate": False},
                "gunicorn.access": {"level": _LEVEL, "handlers": [], "propagate": False}},
}


def on_starting(server):
    shutil.rmtree(METRICS_DIR, ignore_errors=True)  # counts start at zero with the service
    METRICS_DIR.mkdir(parents=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
