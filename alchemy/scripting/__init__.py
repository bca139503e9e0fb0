"""Lua inside the datastore: the sandboxed runtime (runtime.py), the conversions between
replies and Lua values (convert.py), the libraries scripts expect (libs.py) and the EVAL
script cache (scripts.py). The Lua they run is shipped in lua/: sandbox.lua sets up
every runtime, functions.lua the environment FUNCTION LOAD runs libraries in."""
