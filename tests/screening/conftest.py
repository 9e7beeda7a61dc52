from hypothesis import settings

# Shared CI machines are noisy: judge properties on their examples, not on
# how long each took.
settings.register_profile("ketascreen", deadline=None, max_examples=150)
settings.load_profile("ketascreen")
