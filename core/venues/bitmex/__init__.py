"""bitmex"""
