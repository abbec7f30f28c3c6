import Testing
@testable import Core

@Suite struct HeapTuningTests {
    @Test func glibcAcceptsTheSettings() {
        // mallopt returns 0 for a parameter or value it rejects; the tuning must take on Linux.
        #expect(HeapTuning.keepFreedMemory())
    }
}
