"""What the keywords plugin contributes to sciarch (filled in by its own issue)."""

import sciarch

sciarch.require_extra("audio")

from sciarch import hookimpl  # noqa: E402


@hookimpl
def sciarch_models():
    return []
