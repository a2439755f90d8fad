def test_catalog_lists_an_agent_for_its_owner(client_for, owner, agent):
    response = client_for(owner).get("/agents/")
    assert response.status_code == 200
    assert b"Leave assistant" in response.content


def test_agent_page_shows_history(client_for, owner, agent):
    response = client_for(owner).get(f"/agents/{agent.key}/")
    assert response.status_code == 200
    assert b"agent.created" in response.content
