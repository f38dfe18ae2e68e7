"""sciarch_keywords: the keywords plugin."""
