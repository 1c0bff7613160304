# A batch job: reads a JSON list of numbers from its arguments, prints their
# statistics as JSON, and exits with a status that depends on its input:
#   0  all numbers are within the limit (option limit=N, default 100)
#   3  some number is over the limit
#   2  the input is missing or not a JSON list of numbers
import json
import sys

import cmdline
from stats import summary


def main(argv):
    if len(argv) != 1:
        print("usage: -- '[1, 2, 3]'")
        return 2
    try:
        numbers = json.loads(argv[0])
    except ValueError as exc:
        print("not JSON:", exc)
        return 2
    if not isinstance(numbers, list) or not all(isinstance(n, (int, float)) for n in numbers):
        print("not a list of numbers")
        return 2
    limit = float(cmdline.get("limit", "100"))
    result = summary(numbers)
    result["over_limit"] = [n for n in numbers if n > limit]
    print(json.dumps(result))
    return 3 if result["over_limit"] else 0


sys.exit(main(sys.argv[1:]))
