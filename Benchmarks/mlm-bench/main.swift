print("mlm-bench: under construction")
