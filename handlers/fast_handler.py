"""TorchServe handler for the fast model: a joblib-pickled scikit-learn pipeline."""
import os

from handlers.artifacts import FAST_MODEL_FILE, UNKNOWN_NGRAMS
from handlers.base import SentimentHandler
from handlers.explain import Explanation
from handlers.fast_explain import linear_contributions
from handlers.fast_model import FastScorer


class FastHandler(SentimentHandler):
    def load_model(self, model_dir, properties):
        self.score = FastScorer(os.path.join(model_dir, self.manifest["model"].get("serializedFile", FAST_MODEL_FILE)))

    def predict_positive(self, texts, fast_positive=None):
        return self.score(texts)

    def score_texts(self, texts, fast_positive=None):
        """With each text's share of unknown character n-grams (`unknown_ngrams`): input drift."""
        positive, unknown = self.score.score(texts)
        return positive, ({} if unknown is None else {UNKNOWN_NGRAMS: unknown})

    def explain_text(self, text):
        """Exact: each feature's share of the linear model's logit, on the characters it came from."""
        weights, bias, logit = linear_contributions(self.score.pipeline, text)
        return Explanation(weights, logit, bias, "linear")
