"""Local, faithful sandboxes of the Kommo and Xero APIs (not deployed).

Each sandbox is a WSGI app served on 127.0.0.1 by ``sandbox.common.server.ServerThread``; the demo, the tests and
the benchmarks talk to them over real HTTP through the product's own clients.
"""
