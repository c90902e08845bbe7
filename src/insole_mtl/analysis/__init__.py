"""Analyses of the paper's Sec. VI-D and VII as plain functions returning figures and frames:
t-SNE of the shared embedding (Fig. 4), FSR3 means by body-weight group (Fig. 5), random-forest
body-weight models on per-channel summary statistics (Fig. 6).
"""
