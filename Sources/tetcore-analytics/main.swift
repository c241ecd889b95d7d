print("tetcore-analytics: under construction")
