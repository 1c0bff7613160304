# The echo app, and the network wait it shares with examples/httpd.
module("main.py")
module("echo.py")
module("netup.py", base_path="../httpd")
