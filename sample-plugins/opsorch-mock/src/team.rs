//! `team`: the engineering organisation (a tree under `engineering`) and its
//! seeded members.

use opsorch_plugin_api::schema::{StringMap, Team, TeamMember, TeamQuery};
use opsorch_plugin_api::{Error, Result, TeamProvider};
use serde_json::json;

use crate::catalog::{self, BASE_URL, SERVICES, TEAMS};
use crate::data::World;
use crate::filter::{contains_ci, mock_metadata, obj, tags_match};

pub struct MockTeams {
    teams: Vec<Team>,
    members: Vec<(&'static str, Vec<TeamMember>)>,
}

impl MockTeams {
    pub fn new(world: World) -> Self {
        MockTeams {
            teams: TEAMS.iter().map(build).collect(),
            members: world.members,
        }
    }
}

fn build(def: &catalog::TeamDef) -> Team {
    let tags: StringMap = [
        ("slack", def.slack),
        ("costCenter", def.cost_center),
        ("department", "engineering"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let services: Vec<&str> = SERVICES
        .iter()
        .filter(|s| s.team == def.id)
        .map(|s| s.id)
        .collect();
    let mut metadata = mock_metadata();
    metadata.extend(obj(json!({
        "services": services,
        "oncallSchedule": format!("{}-primary", def.id),
    })));
    Team {
        id: def.id.into(),
        name: def.name.into(),
        parent: def.parent.into(),
        url: format!("{BASE_URL}/teams/{}", def.id),
        tags,
        metadata,
    }
}

fn matches(team: &Team, q: &TeamQuery) -> bool {
    let scope = &q.scope;
    (contains_ci(&team.name, &q.name) || contains_ci(&team.id, &q.name))
        && tags_match(&team.tags, &q.tags)
        // A team scope selects that team and its sub-teams.
        && (scope.team.is_empty() || catalog::team_within(&team.id, &scope.team))
        // A service scope selects the team that owns the service.
        && (scope.service.is_empty()
            || catalog::service(&scope.service).is_some_and(|s| s.team == team.id))
}

impl TeamProvider for MockTeams {
    fn query(&self, q: TeamQuery) -> Result<Vec<Team>> {
        Ok(self
            .teams
            .iter()
            .filter(|t| matches(t, &q))
            .cloned()
            .collect())
    }

    fn get(&self, id: &str) -> Result<Team> {
        self.teams
            .iter()
            .find(|t| t.id == id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("team {id} not found")))
    }

    fn members(&self, team_id: &str) -> Result<Vec<TeamMember>> {
        self.members
            .iter()
            .find(|(id, _)| *id == team_id)
            .map(|(_, m)| m.clone())
            .ok_or_else(|| Error::not_found(format!("team {team_id} not found")))
    }
}
