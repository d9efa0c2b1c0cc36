// CSV tables: a good table with quoted cells and blank lines loads as [F, 1, 1] samples;
// a non-numeric cell, a ragged row, a missing label column or other columns in the test
// file are errors naming the file, the row and the column.
import Foundation
import PhalanxCore
@testable import PhalanxData
import Testing

@Suite struct CSVTests {
    let dir = ScratchDirectory()

    func write(_ name: String, _ text: String) -> String {
        let path = dir.file(name)
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }

    func expectError(_ expected: DataError, _ texts: [String], sourceLocation: SourceLocation = #_sourceLocation,
                     _ body: () throws -> Void) {
        let error = #expect(throws: DataError.self, sourceLocation: sourceLocation) { try body() }
        #expect(error == expected, sourceLocation: sourceLocation)
        for t in texts {
            #expect(error?.description.contains(t) == true, "\(String(describing: error)) lacks \(t)", sourceLocation: sourceLocation)
        }
    }

    @Test func readsATable() throws {
        defer { dir.cleanUp() }
        let path = write("t.csv", "\u{FEFF}a,\"b, quoted\",label,c\r\n1.5, -2 ,1,3e2\r\n\n0,0.25,0,\"7\"\n")
        let (data, table) = try Dataset.loadCSV(path, labelColumn: "label")
        #expect(table.columns == ["a", "b, quoted", "c"])
        #expect(data.images.shape == [2, 3, 1, 1] && data.sampleShape == [3, 1, 1])
        #expect(data.images.scalars == [1.5, -2, 300, 0, 0.25, 7])
        #expect(data.labels == [1, 0] && data.classCount == 2)
    }

    @Test func nonNumericCellNamesRowAndColumn() {
        defer { dir.cleanUp() }
        let path = write("bad.csv", "x,y,label\n1,2,0\n3,four,1\n")
        expectError(.notNumeric(path: path, row: 3, column: "y", value: "four"), [path, "row 3", "column 'y'", "'four'"]) {
            _ = try CSV.read(path, labelColumn: "label")
        }
        let empty = write("empty-cell.csv", "x,y,label\n1,,0\n")
        expectError(.notNumeric(path: empty, row: 2, column: "y", value: ""), [empty]) { _ = try CSV.read(empty, labelColumn: "label") }
        let nan = write("nan.csv", "x,label\nnan,0\n")
        expectError(.notNumeric(path: nan, row: 2, column: "x", value: "nan"), [nan]) { _ = try CSV.read(nan, labelColumn: "label") }
        let label = write("label.csv", "x,label\n1,0.5\n")
        expectError(.badLabel(path: label, position: "row 2", value: "0.5"), [label, "row 2"]) {
            _ = try CSV.read(label, labelColumn: "label")
        }
    }

    @Test func raggedRow() {
        defer { dir.cleanUp() }
        let path = write("ragged.csv", "x,y,label\n1,2,0\n\n1,2\n")
        expectError(.raggedRow(path: path, row: 4, found: 2, expected: 3), [path, "row 4", "2 cells", "3 columns"]) {
            _ = try CSV.read(path, labelColumn: "label")
        }
    }

    @Test func missingLabelColumn() {
        defer { dir.cleanUp() }
        let path = write("nolabel.csv", "x,y,target\n1,2,0\n")
        expectError(.missingColumn(path: path, column: "label", header: ["x", "y", "target"]), [path, "'label'"]) {
            _ = try CSV.read(path, labelColumn: "label")
        }
        let empty = write("empty.csv", "")
        let error = #expect(throws: DataError.self) { _ = try CSV.read(empty, labelColumn: "label") }
        #expect(error?.description.contains(empty) == true && error?.description.contains("header") == true)
    }

    @Test func testFileMustMatchTheTrainingColumnsAndClasses() throws {
        defer { dir.cleanUp() }
        let train = write("train.csv", "x,y,label\n1,2,0\n3,4,1\n")
        let first = try Dataset.loadCSV(train, labelColumn: "label")
        let swapped = write("test.csv", "y,x,label\n1,2,0\n")
        expectError(.columnMismatch(path: swapped, found: ["y", "x"], expected: ["x", "y"], expectedPath: train), [swapped, train]) {
            _ = try Dataset.loadCSV(swapped, labelColumn: "label", like: (first.table, train, 2))
        }
        let unseen = write("test2.csv", "x,y,label\n1,2,2\n")
        expectError(.labelOutOfRange(path: unseen, index: 0, label: 2, classCount: 2), [unseen]) {
            _ = try Dataset.loadCSV(unseen, labelColumn: "label", like: (first.table, train, 2))
        }
    }
}
