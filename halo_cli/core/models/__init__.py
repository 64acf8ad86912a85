"""Models: where one comes from (location.py), loading it and its processor (load.py), describing a model folder
(folder.py), and the tiny offline Qwen3-VL halo builds itself (tiny.py, its tokenizer's corpus in tiny_corpus.py).
"""
