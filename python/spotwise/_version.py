# The project's version: Sources/SpotwiseCore/Values/SpotwiseVersion.swift (a test keeps them equal).
__version__ = "0.1.0"
