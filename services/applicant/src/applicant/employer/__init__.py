"""The employer's side of the applicant service (用人单位): its staff (the talents whose profile names its
统一社会信用代码), attestations of employment and social insurance at the source, 举荐 recommendations for the
employer_recommendation route, and demand declarations (人才需求申报).

Employer accounts live in the gateway (it is the identity provider); an employer user's access token carries
the employer's id, credit code, name and region, which `dependencies.current_employer` reads.
"""
