"""The network front: sockets, the event loop and RESP connections over the engine."""
