import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A namespace-resolved XML element tree, built with `XMLParser` (libxml2 on Linux).
struct XMLTreeNode: Sendable {
    var namespace: String
    var name: String
    var attributes: [String: String]
    var children: [XMLTreeNode]
    var text: String

    func children(_ ns: String, _ name: String) -> [XMLTreeNode] {
        children.filter { $0.namespace == ns && $0.name == name }
    }
    func child(_ ns: String, _ name: String) -> XMLTreeNode? {
        children.first { $0.namespace == ns && $0.name == name }
    }
    /// The element's text with whitespace runs collapsed, or nil when the child is absent.
    func childText(_ ns: String, _ name: String) -> String? {
        child(ns, name).map { collapseWhitespace($0.text) }
    }

    /// Parses `data`. `source` names the input in error messages.
    static func parse(_ data: Data, source: String) throws -> XMLTreeNode {
        let parser = XMLParser(data: data)
        parser.shouldProcessNamespaces = true
        parser.shouldReportNamespacePrefixes = false
        parser.shouldResolveExternalEntities = false
        let builder = TreeBuilder()
        parser.delegate = builder
        let ok = parser.parse()
        if !ok || builder.root == nil {
            let message: String
            let head = String(decoding: data.prefix(200), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if !head.hasPrefix("<") {
                message = "the response is not XML; it starts with '\(head.prefix(60))'"
            } else if let e = parser.parserError as NSError? {
                message = describe(code: e.code)
            } else if builder.root == nil {
                message = "no root element"
            } else {
                message = "parser stopped"
            }
            throw PapersError.malformedXML(source: source, line: max(parser.lineNumber, 1), message: message)
        }
        return builder.root!
    }
}

/// Text for the libxml2 / XMLParser error codes a truncated or broken response produces.
private func describe(code: Int) -> String {
    let known: [Int: String] = [
        4: "the document is empty", 5: "the document ends before its elements are closed",
        9: "an invalid character", 23: "a '>' is missing", 26: "an undeclared entity", 38: "an attribute value is not quoted",
        40: "an element's start tag is not closed", 41: "an attribute is not well-formed", 64: "the XML declaration is malformed",
        73: "an end tag is not closed", 76: "an end tag does not match its start tag", 85: "extra content after the document element",
        111: "the document ends before its elements are closed",
    ]
    return (known[code] ?? "XML error") + " (parser code \(code))"
}

private final class TreeBuilder: NSObject, XMLParserDelegate {
    var stack: [XMLTreeNode] = []
    var root: XMLTreeNode?

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
        stack.append(XMLTreeNode(namespace: namespaceURI ?? "", name: elementName, attributes: attributeDict,
                                children: [], text: ""))
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
        guard let done = stack.popLast() else { return }
        if stack.isEmpty { root = done } else { stack[stack.count - 1].children.append(done) }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if !stack.isEmpty { stack[stack.count - 1].text += string }
    }

    func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
        if !stack.isEmpty { stack[stack.count - 1].text += String(decoding: CDATABlock, as: UTF8.self) }
    }
}

enum XMLNamespace {
    static let atom = "http://www.w3.org/2005/Atom"
    static let opensearch = "http://a9.com/-/spec/opensearch/1.1/"
    static let arxiv = "http://arxiv.org/schemas/atom"
    static let dc = "http://purl.org/dc/elements/1.1/"
}
