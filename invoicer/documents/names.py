"""The qualified names of the e-invoices' XML (UBL, CII)."""

from lxml.etree import QName


class Names(dict):
    """A namespace's qualified names, made once each: lxml makes an element of a QName
    faster than of a "{namespace}tag" string, which it parses every time (a UBL invoice
    has a hundred elements and more)."""

    def __init__(self, namespace: str):
        super().__init__()
        self.namespace = namespace

    def __missing__(self, tag: str) -> QName:
        self[tag] = name = QName(self.namespace, tag)
        return name
