"""`python -m video_assets.cli`: the same as the `video-assets` command."""

import sys

from video_assets.cli.main import main

sys.exit(main())
