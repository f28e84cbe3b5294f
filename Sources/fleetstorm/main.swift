print("fleetstorm")
