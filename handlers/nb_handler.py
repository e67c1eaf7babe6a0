"""TorchServe handler for the fast model: a joblib-pickled scikit-learn pipeline."""
import os

import joblib
import numpy as np

from handlers.base import SentimentHandler


class FastSentimentHandler(SentimentHandler):
    def load_model(self, model_dir, properties):
        serialized = self.manifest["model"].get("serializedFile", "model.joblib")
        self.pipeline = joblib.load(os.path.join(model_dir, serialized))
        self.positive_column = list(self.pipeline.classes_).index(1)

    def predict_positive(self, texts):
        return np.asarray(self.pipeline.predict_proba(texts))[:, self.positive_column]
