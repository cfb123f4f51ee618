"""The "tryon" family: paired image-to-image (pix2pix-style) virtual try-on on rendered garments."""
