"""gunicorn settings for the gateway (overridable by GATEWAY_* environment variables)."""
import os

bind = os.environ.get("GATEWAY_BIND", "127.0.0.1:5000")
# The gateway waits on TorchServe, it does not compute: few processes, many threads. 2 x 16 lets
# 32 requests wait on TorchServe at once, enough to fill both fast workers' batches of 16
# (README "Performance").
workers = int(os.environ.get("GATEWAY_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GATEWAY_THREADS", "16"))
timeout = 60
graceful_timeout = 10
keepalive = 5
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GATEWAY_LOG_LEVEL", "info")
