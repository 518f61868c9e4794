"""Wall time, CPU, memory and time to first item of do_images against raw aiohttp and its peers.

Run ``uv run --extra bench python -m benchmarks --help``; results land in ``benchmarks/results/``.
"""
