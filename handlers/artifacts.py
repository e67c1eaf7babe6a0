"""Names of the files inside a model directory or archive, and the labels: defined once, here.

They live in `handlers/` because this package is what ships inside every .mar; everything above
(core, train, gateway, deploy) imports them from here.
"""

LABELS = ("negative", "positive")  # index = NSMC label

FAST_MODEL_FILE = "model.joblib"  # the fast model's pickled pipeline
METRICS_FILE = "metrics.json"  # how a model was trained and how it scored
BLEND_FILE = "blend.json"  # the accurate model's dev-chosen BERT weight
ONNX_FILE = "model.int8.onnx"  # BERT's int8 ONNX export, packed into every accurate archive

VERSION_HEADER = "X-Model-Version"  # response header: which model version scored a request
# Answer field (per text, from the fast model): the share of its character n-grams the model does
# not know, for the gateway's input-drift metric.
UNKNOWN_NGRAMS = "unknown_ngrams"
