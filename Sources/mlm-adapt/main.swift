print("mlm-adapt: under construction")
