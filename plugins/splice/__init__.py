"""sciarch_splice: the splice plugin."""
