// A small HTML writer for the report: escaped text, tables, figures whose PNGs are
// embedded as data: URIs (so the page opens offline, as one file), one stylesheet.

import Foundation

/// Builds one self-contained HTML page, section by section.
struct HTMLPage {
    private(set) var body = ""
    private var sections: [(id: String, title: String)] = []
    let title: String

    init(title: String) { self.title = title }

    /// `text` with &, <, >, " escaped.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }

    /// A `data:image/png;base64,…` URI of PNG bytes.
    static func dataURI(png: [UInt8]) -> String { "data:image/png;base64," + Data(png).base64EncodedString() }

    /// Opens a section (`<section id=…><h2>`); listed in the page's contents.
    mutating func section(_ id: String, _ heading: String) {
        if !sections.isEmpty { body += "</section>\n" }
        sections.append((id, heading))
        body += "<section id=\"\(id)\">\n<h2>\(Self.escape(heading))</h2>\n"
    }

    /// A paragraph of plain text (escaped).
    mutating func paragraph(_ text: String, className: String? = nil) {
        body += "<p\(className.map { " class=\"\($0)\"" } ?? "")>\(Self.escape(text))</p>\n"
    }

    /// Markup as given (already escaped by the caller).
    mutating func raw(_ html: String) { body += html + "\n" }

    /// A figure holding a PNG, with alternative text and a caption; a `plot` takes half the
    /// page's width (two a row), other images their own size or `width` CSS pixels (pixelated).
    mutating func figure(png: [UInt8], alt: String, caption: String? = nil, plot: Bool = false, width: Int? = nil) {
        let size = width.map { " class=\"pixels\" style=\"width:\($0)px\"" } ?? ""
        body += "<figure\(plot ? " class=\"plot\"" : "")><img src=\"\(Self.dataURI(png: png))\"\(size) alt=\"\(Self.escape(alt))\">"
        if let caption { body += "<figcaption>\(Self.escape(caption))</figcaption>" }
        body += "</figure>\n"
    }

    /// A table of escaped cells; columns whose index is in `numeric` align right.
    mutating func table(header: [String], rows: [[String]], numeric: Set<Int> = [], id: String? = nil) {
        body += "<table\(id.map { " id=\"\($0)\"" } ?? "")><thead><tr>"
            + header.map { "<th>\(Self.escape($0))</th>" }.joined() + "</tr></thead><tbody>\n"
        for row in rows {
            body += "<tr>" + row.enumerated().map { k, cell in
                "<td\(numeric.contains(k) ? " class=\"num\"" : "")>\(Self.escape(cell))</td>"
            }.joined() + "</tr>\n"
        }
        body += "</tbody></table>\n"
    }

    /// The whole page.
    func html(subtitle: String) -> String {
        let contents = sections.map { "<a href=\"#\($0.id)\">\(Self.escape($0.title))</a>" }.joined(separator: " · ")
        return """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(Self.escape(title)) — Phalanx report</title>
        <link rel="icon" href="data:,">
        <style>\(Self.style)</style>
        </head>
        <body>
        <header><h1>\(Self.escape(title))</h1><p class="meta">\(Self.escape(subtitle))</p>
        <nav>\(contents)</nav></header>
        \(body)\(sections.isEmpty ? "" : "</section>\n")<footer>Written by <code>phalanx report</code>; \
        every picture is embedded in this file.</footer>
        </body>
        </html>

        """
    }

    static let style = """
    body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#222;margin:0 auto;\
    max-width:1280px;padding:0 24px 40px}
    header{border-bottom:1px solid #ddd;margin-bottom:8px}h1{margin:18px 0 2px;font-size:26px}
    .meta{color:#555;margin:0 0 6px}nav{margin:0 0 10px;font-size:14px}nav a{color:#1f77b4;text-decoration:none}
    h2{font-size:20px;margin:26px 0 8px;border-bottom:1px solid #eee;padding-bottom:3px}
    figure{display:inline-block;margin:0 12px 12px 0;vertical-align:top;max-width:100%}
    figure.plot{width:calc(50% - 20px)}figure.plot img{width:100%}
    figure img{max-width:100%;height:auto;border:1px solid #eee}img.pixels{image-rendering:pixelated}
    figcaption{font-size:13px;color:#555}
    table{border-collapse:collapse;margin:6px 0 12px;font-size:14px}
    th,td{border:1px solid #ddd;padding:3px 8px}th{background:#f5f5f5;font-weight:600}td.num{text-align:right;\
    font-variant-numeric:tabular-nums}
    table.confusion td{text-align:right;min-width:38px;font-variant-numeric:tabular-nums}
    table.confusion th.true{text-align:left}
    .bar{display:inline-block;height:11px;background:#1f77b4;vertical-align:middle}
    .bar.vote{background:#d62728}.note{color:#555;font-size:14px}
    footer{margin-top:30px;color:#777;font-size:13px}code{font-size:13px}
    """
}
