"""Problems mapped to energies (D5).

TSP (Hopfield-Tank, Potts annealing, exact yardsticks) and QUBO.
"""
