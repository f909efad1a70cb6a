"""The neural audio codec (render stage): drum stems ↔ a few kilobits per second of tokens.

Built from audiocraft's EnCodec parts and trained by us on sampler renders of royalty-free kits.
"""
