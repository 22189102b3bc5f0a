"""The seed paper's four architectures, registered through the ``fer_zoo`` entry-point group.

Sridhar, Sahu & Mallampalli, "Human Facial Expression Classifier (Assignment 1 – CNN based)":
a custom CNN (Table 1) compared with modified LeNet, AlexNet and VGG-16 on FER2013.
"""

PAPER = "Sridhar, Sahu & Mallampalli, Human Facial Expression Classifier (CNN based), BITS Pilani"
