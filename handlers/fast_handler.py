"""TorchServe handler for the fast model: a joblib-pickled scikit-learn pipeline."""
import os

from handlers.artifacts import FAST_MODEL_FILE
from handlers.base import SentimentHandler
from handlers.fast_model import FastScorer


class FastHandler(SentimentHandler):
    def load_model(self, model_dir, properties):
        self.score = FastScorer(os.path.join(model_dir, self.manifest["model"].get("serializedFile", FAST_MODEL_FILE)))

    def predict_positive(self, texts):
        return self.score(texts)
