"""A compact Korean BERT for NSMC trained from scratch: WordPiece -> masked-LM -> classifier.

Run it with `python -m train.bert --help`. Every text goes through handlers.text.clean_text
first, exactly as the serving handler does before tokenizing.
"""
