# An uncaught exception in main.py: traceback, then exit status 1.
def parse(text):
    return int(text)


print("about to fail")
parse("not a number")
