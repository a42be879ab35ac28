"""`video-assets browse`: a curator's local web view over a data directory.

The page (static/) draws what the JSON API (api.py, routes in server.py) answers; the API
calls the functions the CLI's `clips`, `search` and `duplicates` call, so both give the same
answers and the same error messages. Media (media.py) are served only for registered videos.
"""
