# A module of the app, frozen beside main.py.


def summary(numbers):
    if not numbers:
        return {"count": 0}
    total = sum(numbers)
    return {"count": len(numbers), "sum": total, "mean": total / len(numbers), "max": max(numbers)}
