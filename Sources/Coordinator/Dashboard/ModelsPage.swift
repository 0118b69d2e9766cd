import Foundation
import Reports
import SpotwiseCore

/// The registry: each model's versions with their metrics and lineage (the job, its attempts,
/// interruptions and cost), the quality gate's decisions (the rejected ones with their reason),
/// where each alias points and how it moved; admins may promote and roll back.
enum ModelsPage {
    static func render(_ models: [ModelDetail], viewer: DashboardLayout.Viewer) -> HTML {
        let sections = models.map { section($0, viewer: viewer) }
        return DashboardLayout.page(
            title: "Models", active: "models", viewer: viewer,
            content: """
                <h1>Models</h1>
                \(models.isEmpty ? "<p class=\"muted\" id=\"no-models\">No model has been registered or gated yet.</p>" : HTML.empty)
                <div id="models">\(sections)</div>
                """)
    }

    static func section(_ model: ModelDetail, viewer: DashboardLayout.Viewer) -> HTML {
        let versions = model.versions.reversed().map { version in
            let pointing = model.aliases.filter { $0.value == version.version }.keys.sorted()
            return """
                <tr class="version"><td class="num">\(version.version)</td>\
                <td>\(pointing.map { "<span class=\"tag\">@\($0)</span>" as HTML })</td>\
                <td>\(metrics(version.metrics))</td>\
                <td><a href="/ui/jobs/\(FormBody.encode(version.job))">\(version.lineage.jobName) \(version.job)</a></td>\
                <td class="num">\(version.lineage.attempts) / \(version.lineage.interruptions)</td>\
                <td class="num">$\(version.lineage.costUSD)</td>\
                <td class="num">\(version.lineage.checkpointStep.map(String.init) ?? "-")</td>\
                <td>\(DashboardLayout.time(version.createdAt))</td></tr>
                """ as HTML
        }
        let decisions = model.decisions.reversed().map { decision in
            """
            <tr class="decision \(decision.accepted ? "accepted" : "rejected")">\
            <td>\(decision.accepted ? "accepted" : "rejected")</td>\
            <td class="num">\(decision.version.map(String.init) ?? "-")</td><td class="reason">\(decision.reason)</td>\
            <td>\(metrics(decision.metrics))</td>\
            <td><a href="/ui/jobs/\(FormBody.encode(decision.job))">\(decision.job)</a></td>\
            <td>\(DashboardLayout.time(decision.decidedAt))</td></tr>
            """ as HTML
        }
        let aliases = model.aliases.sorted { $0.key < $1.key }.map { alias, version in
            "<tr class=\"alias\"><td>@\(alias)</td><td class=\"num\">\(version)</td></tr>" as HTML
        }
        let moves = model.aliasHistory.reversed().map { move in
            let from = move.from.map { "version \($0)" } ?? "nowhere"
            let to = move.pointsAt.map { "version \($0)" } ?? "nowhere"
            return "<li>\(DashboardLayout.time(move.at)) @\(move.alias): \(move.kind.rawValue), \(from) to \(to)</li>"
                as HTML
        }
        var forms = HTML.empty
        if viewer.isAdmin, !model.versions.isEmpty {
            let name = FormBody.encode(model.model)
            forms = """
                <form class="promote" method="post" action="/ui/models/\(name)/promote">\(DashboardLayout.csrfField(viewer))\
                <label>Alias <input name="alias" value="production" required></label>\
                <label>Version <input name="version" type="number" min="1" value="\(model.versions.last?.version ?? 1)" required></label>\
                <button type="submit">Promote</button></form>
                <form class="rollback" method="post" action="/ui/models/\(name)/rollback">\(DashboardLayout.csrfField(viewer))\
                <label>Alias <input name="alias" value="production" required></label>\
                <button type="submit">Roll back</button></form>
                """
        }
        return """
            <section class="model" data-model="\(model.model)">
            <h2>\(model.model)</h2>
            <table class="versions"><thead><tr><th class="num">version</th><th>aliases</th><th>metrics</th><th>job</th>\
            <th class="num">attempts / interruptions</th><th class="num">cost</th><th class="num">checkpoint step</th>\
            <th>registered</th></tr></thead><tbody>\(versions)</tbody></table>
            <h3>Quality gate decisions</h3>
            <table class="decisions"><thead><tr><th>decision</th><th class="num">version</th><th>reason</th>\
            <th>metrics</th><th>job</th><th>decided</th></tr></thead><tbody>\(decisions)</tbody></table>
            <h3>Aliases</h3>
            <table class="aliases"><tbody>\(aliases)</tbody></table>
            <ol class="alias-history">\(moves)</ol>
            \(forms)
            </section>
            """
    }

    static func metrics(_ values: [String: Double]) -> String {
        values.sorted { $0.key < $1.key }.map { "\($0.key)=\(String(format: "%.4g", $0.value))" }
            .joined(separator: ", ")
    }
}
