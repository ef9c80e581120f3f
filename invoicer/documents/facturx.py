"""A document as a Factur-X invoice (EN 16931 profile): the readable PDF, made PDF/A-3B,
with its CII XML embedded as factur-x.xml. The `factur-x` library (Akretion) adds the
attachment and the XMP metadata with the Factur-X extension schema, and checks the XML
against the Factur-X schema on the way."""

from invoicer.documents import Document, cii, pdf


def render(doc: Document) -> bytes:
    from facturx import generate_from_binary

    xml = cii.render(doc)
    visual = pdf.render(doc, pdfa=True)
    return generate_from_binary(visual, xml, flavor="factur-x", level="en16931", check_xsd=True,
                                pdf_metadata={"author": doc.seller.name, "keywords": "Factur-X",
                                              "title": f"{pdf.title(doc)} {doc.number}",
                                              "subject": f"{pdf.title(doc)} {doc.number} of {doc.seller.name}"},
                                lang="en")
