using System.Data.Common;
using CoordinationHub.Platform.Auth;
using CoordinationHub.Platform.Data;
using CoordinationHub.Platform.OpenApi;
using Dapper;
using FluentValidation;
using Mediator;

namespace CoordinationHub.Features.Referrals;

/// <summary>The receiver names (or changes) the agent in charge of the referral (référent); every change is kept.</summary>
[ContractName("ReferralAssignment")]
public sealed record AssignReferralAgentCommand(AgentInput AssignedAgent) : ReferralCommand;

public sealed class AssignReferralAgentValidator : AbstractValidator<AssignReferralAgentCommand>
{
    public AssignReferralAgentValidator() => ReferralRules.Agent(RuleFor(c => c.AssignedAgent));
}

public sealed class AssignReferralAgentHandler(ReferralWorkflow workflow, AssignmentLog assignments)
    : ICommandHandler<AssignReferralAgentCommand, ReferralDto>
{
    public async ValueTask<ReferralDto> Handle(AssignReferralAgentCommand command, CancellationToken ct)
    {
        return await workflow.ActAsync(command.Id, command.ExpectedVersion, ReferralAction.ASSIGN_AGENT, "referral.agent-assigned",
            s => assignments.AssignAsync(s, command.AssignedAgent), ct);
    }
}

/// <summary>An assigned agent, from when.</summary>
[ContractName("ReferralAssignmentRecord")]
public sealed record AssignmentDto(Guid OrganisationId, AgentInput Agent, DateTimeOffset AssignedAt);

/// <summary>Every agent the receivers assigned, in order: the referral's assigned-agent history.</summary>
public sealed record ListReferralAssignmentsQuery(Guid Id) : IQuery<IReadOnlyList<AssignmentDto>>;

public sealed class ListReferralAssignmentsHandler(Db db, Caller caller, AssignmentLog assignments)
    : IQueryHandler<ListReferralAssignmentsQuery, IReadOnlyList<AssignmentDto>>
{
    public async ValueTask<IReadOnlyList<AssignmentDto>> Handle(ListReferralAssignmentsQuery query, CancellationToken ct) =>
        await db.RetryAsync(async (c, t) =>
        {
            var row = await ReferralStore.LoadAsync(db, c, null, query.Id, t);
            var role = await ReferralStore.RoleAsync(db, c, null, row, query.Id, caller, t);
            // An earlier receiver sees only its own assignments.
            return (IReadOnlyList<AssignmentDto>)(await assignments.ListAsync(c, null, query.Id, t))
                .Where(a => role != ReferralRole.EARLIER_RECEIVER || a.OrganisationId == caller.OrganisationId).ToList();
        }, ct);
}

/// <summary>Sets the assigned agent on the row and keeps the change in its history.</summary>
public sealed class AssignmentLog(Db db, Caller caller)
{
    /// <summary>The agent assigned is kept as its token proves it when it is the authenticated agent itself (an agent
    /// taking the referral), else as declared (a colleague named by the one acting).</summary>
    public async Task AssignAsync(ReferralStep s, AgentInput agent)
    {
        if (caller.Agent is { } proven && proven.Matches(agent.Reference)) agent = new AgentInput(proven.Reference, proven.DisplayName);
        s.Row.AssignedAgentReference = agent.Reference.Trim();
        s.Row.AssignedAgentName = agent.DisplayName.Trim();
        await s.C.ExecuteAsync(db.Command(InsertSql, new
        {
            id = Guid.CreateVersion7(), referralId = s.Row.Id, organisationId = s.Row.ReceiverId, agentReference = s.Row.AssignedAgentReference,
            agentName = s.Row.AssignedAgentName, s.Now,
        }, s.Ct, s.Tx));
    }

    /// <summary>Every assignment of the referral, in order.</summary>
    public async Task<IReadOnlyList<AssignmentDto>> ListAsync(DbConnection c, DbTransaction? tx, Guid id, CancellationToken ct) =>
        (await c.QueryAsync<Row>(db.Command(ListSql, new { id }, ct, tx)))
            .Select(r => new AssignmentDto(r.OrganisationId, new AgentInput(r.AgentReference, r.AgentName), r.AssignedAt)).ToList();

    private sealed class Row
    {
        public Guid OrganisationId { get; init; }
        public string AgentReference { get; init; } = "";
        public string AgentName { get; init; } = "";
        public DateTimeOffset AssignedAt { get; init; }
    }

    private const string InsertSql = """
        INSERT INTO referral_assignment (id, referral_id, organisation_id, agent_reference, agent_name, assigned_at)
        VALUES (@id, @referralId, @organisationId, @agentReference, @agentName, @now)
        """;
    private const string ListSql = """
        SELECT organisation_id, agent_reference, agent_name, assigned_at FROM referral_assignment
        WHERE referral_id = @id ORDER BY assigned_at, id
        """;
}
