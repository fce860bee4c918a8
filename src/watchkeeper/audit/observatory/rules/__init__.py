"""The Observatory's ten tests, one module each (or a few small ones together). Each takes the
retrieval (and the preload list) and says what it saw: a result, whether that passes, and the
scanner's extra fields. What a result is worth is the grader's business (charts.py)."""
