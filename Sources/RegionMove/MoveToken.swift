import HTTPCore
package import SCIMCore
import RegionSCIM

/// The fencing token of a mover: which move, and which of its movers (`epoch` rises with every takeover). Sent as
/// `?move=<uuid>&epoch=<n>` on every mutating move call.
package struct MoveToken: Sendable, Equatable {
    package var moveID: String
    package var epoch: Int64

    package init(moveID: String, epoch: Int64) {
        self.moveID = moveID
        self.epoch = epoch
    }

    /// The token in a request's query, or a 400.
    package init(query: Substring?) throws(SCIMError) {
        let parameters = QueryParameters(query ?? "") ?? QueryParameters([])
        guard let move = parameters["move"].flatMap(UUIDText.canonical), let epochText = parameters["epoch"],
              let epoch = Int64(epochText), epoch > 0 else {
            throw SCIMError.invalidValue("a move call needs ?move=<uuid>&epoch=<positive integer>")
        }
        self.init(moveID: move, epoch: epoch)
    }

    /// A data call: the fence must be this move's, at exactly this epoch (a newer mover took over when it is higher;
    /// a lower one means this mover has not claimed the fence yet).
    func check(_ holder: MoveFence.Holder) throws(SCIMError) {
        guard holder.moveID == moveID else {
            throw SCIMError(status: 409, detail: "another move (\(holder.moveID)) holds this tenant in this region")
        }
        guard holder.epoch == epoch else {
            throw SCIMError(status: 409, detail: holder.epoch > epoch
                            ? "a newer mover (epoch \(holder.epoch)) holds this move; this one (epoch \(epoch)) must stop"
                            : "this mover (epoch \(epoch)) has not claimed the fence yet (epoch \(holder.epoch))")
        }
    }

    /// A change of the fence: the same move, at this epoch or a newer one (which takes it over).
    func checkTakeover(_ holder: MoveFence.Holder) throws(SCIMError) {
        guard holder.moveID == moveID else {
            throw SCIMError(status: 409, detail: "another move (\(holder.moveID)) holds this tenant in this region")
        }
        guard epoch >= holder.epoch else {
            throw SCIMError(status: 409, detail: "a newer mover (epoch \(holder.epoch)) holds this move; this one (epoch \(epoch)) must stop")
        }
    }

    /// A region id as region files spell them: 1-32 lowercase letters, digits and dashes.
    package static func isRegionID(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 32 && s.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
    }
}
