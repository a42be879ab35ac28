"""`python -m video_assets.cli`: the same as the `video-assets` command."""

import sys

from video_assets.cli.main import main

if __name__ == "__main__":  # not when a spawned worker imports this as __mp_main__
    sys.exit(main())
