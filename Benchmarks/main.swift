import Glassbox
print("benchmarks")
