"""The screening rules: vocabulary, evaluation, answer cleaning. Imports no Django."""
