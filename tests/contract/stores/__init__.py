"""One module per cloud store adapter joining the contract suite (see ../conftest.py)."""
