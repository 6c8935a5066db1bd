// SCIMCore
