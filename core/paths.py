"""Where the project is: the one anchor every default path is built from."""
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
